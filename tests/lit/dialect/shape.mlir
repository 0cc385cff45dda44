// RUN: %stc opt %s | filecheck %s
// RUN: %stc opt %s | %stc opt - | filecheck %s
// RUN: %stc opt %s --generic | %stc opt - | filecheck %s

// CHECK-LABEL: func.func @reshape(
func.func @reshape(%x: tensor<4x8xf32>, %s: tensor<bf16>, %e: tensor<0x3xi1>) -> () {
  // CHECK-NEXT: %{{.*}} = spiral.reshape %x : tensor<4x8xf32> -> tensor<2x16xf32>
  %0 = spiral.reshape %x : tensor<4x8xf32> -> tensor<2x16xf32>
  // CHECK-NEXT: spiral.reshape %x : tensor<4x8xf32> -> tensor<32xf32>
  %1 = spiral.reshape %x : tensor<4x8xf32> -> tensor<32xf32>
  // CHECK-NEXT: spiral.reshape %s : tensor<bf16> -> tensor<1x1xbf16>
  %2 = spiral.reshape %s : tensor<bf16> -> tensor<1x1xbf16>
  // CHECK-NEXT: spiral.reshape %e : tensor<0x3xi1> -> tensor<3x0x7xi1>
  %3 = spiral.reshape %e : tensor<0x3xi1> -> tensor<3x0x7xi1>
  func.return
}

// CHECK-LABEL: func.func @transpose(
func.func @transpose(%x: tensor<2x3x4xi32>, %s: tensor<f32>) -> () {
  // CHECK-NEXT: spiral.transpose %x {perm = array<i64: 2, 0, 1>} : tensor<2x3x4xi32> -> tensor<4x2x3xi32>
  %0 = spiral.transpose %x {perm = array<i64: 2, 0, 1>} : tensor<2x3x4xi32> -> tensor<4x2x3xi32>
  // CHECK-NEXT: spiral.transpose %s {perm = array<i64>} : tensor<f32> -> tensor<f32>
  %1 = spiral.transpose %s {perm = array<i64>} : tensor<f32> -> tensor<f32>
  func.return
}

// CHECK-LABEL: func.func @broadcast_to(
func.func @broadcast_to(%x: tensor<3x1xf16>, %s: tensor<i64>) -> () {
  // CHECK-NEXT: spiral.broadcast_to %x : tensor<3x1xf16> -> tensor<2x3x5xf16>
  %0 = spiral.broadcast_to %x : tensor<3x1xf16> -> tensor<2x3x5xf16>
  // CHECK-NEXT: spiral.broadcast_to %s : tensor<i64> -> tensor<4xi64>
  %1 = spiral.broadcast_to %s : tensor<i64> -> tensor<4xi64>
  // CHECK-NEXT: spiral.broadcast_to %x : tensor<3x1xf16> -> tensor<3x0xf16>
  %2 = spiral.broadcast_to %x : tensor<3x1xf16> -> tensor<3x0xf16>
  func.return
}

// CHECK-LABEL: func.func @slice(
func.func @slice(%x: tensor<4x8xf32>) -> () {
  // CHECK-NEXT: spiral.slice %x {start = array<i64: 1, 0>, stride = array<i64: 1, 2>} : tensor<4x8xf32> -> tensor<3x4xf32>
  %0 = spiral.slice %x {start = array<i64: 1, 0>, stride = array<i64: 1, 2>} : tensor<4x8xf32> -> tensor<3x4xf32>
  // CHECK-NEXT: spiral.slice %x {start = array<i64: 3, 7>, stride = array<i64: -1, -3>} : tensor<4x8xf32> -> tensor<4x3xf32>
  %1 = spiral.slice %x {start = array<i64: 3, 7>, stride = array<i64: -1, -3>} : tensor<4x8xf32> -> tensor<4x3xf32>
  // CHECK-NEXT: spiral.slice %x {start = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32> -> tensor<0x8xf32>
  %2 = spiral.slice %x {start = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32> -> tensor<0x8xf32>
  func.return
}

// CHECK-LABEL: func.func @concatenate(
func.func @concatenate(%a: tensor<2x3xf32>, %b: tensor<2x5xf32>, %c: tensor<1x3xf32>) -> () {
  // CHECK-NEXT: spiral.concatenate %a, %b {axis = 1 : i64} : tensor<2x3xf32>, tensor<2x5xf32> -> tensor<2x8xf32>
  %0 = spiral.concatenate %a, %b {axis = 1 : i64} : tensor<2x3xf32>, tensor<2x5xf32> -> tensor<2x8xf32>
  // CHECK-NEXT: spiral.concatenate %a, %c, %a {axis = 0 : i64} : tensor<2x3xf32>, tensor<1x3xf32>, tensor<2x3xf32> -> tensor<5x3xf32>
  %1 = spiral.concatenate %a, %c, %a {axis = 0 : i64} : tensor<2x3xf32>, tensor<1x3xf32>, tensor<2x3xf32> -> tensor<5x3xf32>
  // CHECK-NEXT: spiral.concatenate %c {axis = 0 : i64} : tensor<1x3xf32> -> tensor<1x3xf32>
  %2 = spiral.concatenate %c {axis = 0 : i64} : tensor<1x3xf32> -> tensor<1x3xf32>
  func.return
}

// CHECK-LABEL: func.func @take_along_axis(
func.func @take_along_axis(%x: tensor<4x8xf32>, %i: tensor<4x2xi32>, %j: tensor<1x3xi64>, %k: tensor<3x1xi64>) -> () {
  // CHECK-NEXT: spiral.take_along_axis %x, %i {axis = 1 : i64} : tensor<4x8xf32>, tensor<4x2xi32> -> tensor<4x2xf32>
  %0 = spiral.take_along_axis %x, %i {axis = 1 : i64} : tensor<4x8xf32>, tensor<4x2xi32> -> tensor<4x2xf32>
  // CHECK-NEXT: spiral.take_along_axis %x, %j {axis = 1 : i64} : tensor<4x8xf32>, tensor<1x3xi64> -> tensor<4x3xf32>
  %1 = spiral.take_along_axis %x, %j {axis = 1 : i64} : tensor<4x8xf32>, tensor<1x3xi64> -> tensor<4x3xf32>
  // CHECK-NEXT: spiral.take_along_axis %x, %k {axis = 0 : i64} : tensor<4x8xf32>, tensor<3x1xi64> -> tensor<3x8xf32>
  %2 = spiral.take_along_axis %x, %k {axis = 0 : i64} : tensor<4x8xf32>, tensor<3x1xi64> -> tensor<3x8xf32>
  func.return
}

// CHECK-LABEL: func.func @scatter_add(
func.func @scatter_add(%i: tensor<4x3xi64>, %u: tensor<4x3xf32>, %j: tensor<2x3x5xi32>, %v: tensor<2x3x5xi64>, %w: tensor<2x3x5xbf16>) -> () {
  // CHECK-NEXT: spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<4x10xf32>
  %0 = spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<4x10xf32>
  // CHECK-NEXT: spiral.scatter_add %i, %u {axis = 0 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<1x3xf32>
  %1 = spiral.scatter_add %i, %u {axis = 0 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<1x3xf32>
  // CHECK-NEXT: spiral.scatter_add %j, %v {axis = -2 : i64} : tensor<2x3x5xi32>, tensor<2x3x5xi64> -> tensor<2x7x5xi64>
  %2 = spiral.scatter_add %j, %v {axis = -2 : i64} : tensor<2x3x5xi32>, tensor<2x3x5xi64> -> tensor<2x7x5xi64>
  // CHECK-NEXT: spiral.scatter_add %j, %w {axis = 2 : i64} : tensor<2x3x5xi32>, tensor<2x3x5xbf16> -> tensor<2x3x2xbf16>
  %3 = spiral.scatter_add %j, %w {axis = 2 : i64} : tensor<2x3x5xi32>, tensor<2x3x5xbf16> -> tensor<2x3x2xbf16>
  func.return
}

// CHECK-LABEL: func.func @slice_scatter(
func.func @slice_scatter(%b: tensor<4x8xf32>, %s: tensor<4x3xf32>, %t: tensor<2x3xf32>, %e: tensor<0x8xf32>, %c: tensor<5xi1>, %d: tensor<2xi1>) -> () {
  // CHECK-NEXT: spiral.slice_scatter %b, %s {start = array<i64: 0, 1>, stride = array<i64: 1, 2>} : tensor<4x8xf32>, tensor<4x3xf32> -> tensor<4x8xf32>
  %0 = spiral.slice_scatter %b, %s {start = array<i64: 0, 1>, stride = array<i64: 1, 2>} : tensor<4x8xf32>, tensor<4x3xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.slice_scatter %b, %t {start = array<i64: 3, 7>, stride = array<i64: -1, -3>} : tensor<4x8xf32>, tensor<2x3xf32> -> tensor<4x8xf32>
  %1 = spiral.slice_scatter %b, %t {start = array<i64: 3, 7>, stride = array<i64: -1, -3>} : tensor<4x8xf32>, tensor<2x3xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.slice_scatter %b, %e {start = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32>, tensor<0x8xf32> -> tensor<4x8xf32>
  %2 = spiral.slice_scatter %b, %e {start = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32>, tensor<0x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.slice_scatter %c, %d {start = array<i64: 4>, stride = array<i64: -4>} : tensor<5xi1>, tensor<2xi1> -> tensor<5xi1>
  %3 = spiral.slice_scatter %c, %d {start = array<i64: 4>, stride = array<i64: -4>} : tensor<5xi1>, tensor<2xi1> -> tensor<5xi1>
  func.return
}

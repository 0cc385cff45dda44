// RUN: not %stc opt %s --split-input-file 2>&1 | filecheck %s

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}shape_invalid.mlir:[[# @LINE + 1]]:3: spiral.reshape cannot change the number of elements: (4, 8) has 32, (5, 6) has 30
  %0 = spiral.reshape %x : tensor<4x8xf32> -> tensor<5x6xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.reshape cannot change the dtype: f32 -> i32
  %0 = spiral.reshape %x : tensor<4x8xf32> -> tensor<32xi32>
  func.return
}

// -----

func.func @f(%x: tensor<2x3x4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.transpose perm (0, 0, 1) is not a permutation of the axes of a rank-3 tensor
  %0 = spiral.transpose %x {perm = array<i64: 0, 0, 1>} : tensor<2x3x4xf32> -> tensor<2x2x3xf32>
  func.return
}

// -----

func.func @f(%x: tensor<2x3x4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.transpose perm (1, 0) is not a permutation of the axes of a rank-3 tensor
  %0 = spiral.transpose %x {perm = array<i64: 1, 0>} : tensor<2x3x4xf32> -> tensor<3x2xf32>
  func.return
}

// -----

func.func @f(%x: tensor<2x3x4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.transpose: result type tensor<2x3x4xf32> does not match the inferred tensor<3x2x4xf32>
  %0 = spiral.transpose %x {perm = array<i64: 1, 0, 2>} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  func.return
}

// -----

func.func @f(%x: tensor<2x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.transpose: property 'perm' expected
  %0 = spiral.transpose %x : tensor<2x3xf32> -> tensor<3x2xf32>
  func.return
}

// -----

func.func @f(%x: tensor<3x1xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.broadcast_to cannot change the dtype: f32 -> f16
  %0 = spiral.broadcast_to %x : tensor<3x1xf32> -> tensor<3x4xf16>
  func.return
}

// -----

func.func @f(%x: tensor<3x1xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.broadcast_to cannot broadcast (3, 1) to (4,): the result has a lower rank
  %0 = spiral.broadcast_to %x : tensor<3x1xf32> -> tensor<4xf32>
  func.return
}

// -----

func.func @f(%x: tensor<3x1xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.broadcast_to cannot broadcast (3, 1) to (2, 4, 5): axis -2 has 3 vs 4 (must be 1 or equal)
  %0 = spiral.broadcast_to %x : tensor<3x1xf32> -> tensor<2x4x5xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice cannot change the dtype: f32 -> i32
  %0 = spiral.slice %x {start = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32> -> tensor<2x2xi32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice result rank 1 differs from the input rank 2 (drop or add axes with spiral.reshape)
  %0 = spiral.slice %x {start = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32> -> tensor<8xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice start must have 2 entries (the rank), got 1
  %0 = spiral.slice %x {start = array<i64: 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32> -> tensor<2x2xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice stride must have 2 entries (the rank), got 3
  %0 = spiral.slice %x {start = array<i64: 0, 0>, stride = array<i64: 1, 1, 1>} : tensor<4x8xf32> -> tensor<2x2xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice stride must not be zero (axis 1)
  %0 = spiral.slice %x {start = array<i64: 0, 0>, stride = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<2x2xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice axis 1 reads index 8 (start 2, stride 3, count 3), out of bounds for size 8
  %0 = spiral.slice %x {start = array<i64: 0, 2>, stride = array<i64: 1, 3>} : tensor<4x8xf32> -> tensor<2x3xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice axis 0 reads index -1 (start -1, stride 1, count 1), out of bounds for size 4
  %0 = spiral.slice %x {start = array<i64: -1, 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32> -> tensor<1x8xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice axis 0 reads index -1 (start 2, stride -1, count 4), out of bounds for size 4
  %0 = spiral.slice %x {start = array<i64: 2, 0>, stride = array<i64: -1, 1>} : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice: property 'stride' expected
  %0 = spiral.slice %x {start = array<i64: 0, 0>} : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f() -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.concatenate needs at least one operand
  %0 = spiral.concatenate {axis = 0 : i64} : -> tensor<2xf32>
  func.return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<2x3xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.concatenate operands must have one dtype, got f32 and i32
  %0 = spiral.concatenate %a, %b {axis = 0 : i64} : tensor<2x3xf32>, tensor<2x3xi32> -> tensor<4x3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<f32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.concatenate cannot concatenate 0-d tensors
  %0 = spiral.concatenate %a, %a {axis = 0 : i64} : tensor<f32>, tensor<f32> -> tensor<2xf32>
  func.return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.concatenate operands must have one rank, got (2, 3) and (3,)
  %0 = spiral.concatenate %a, %b {axis = 0 : i64} : tensor<2x3xf32>, tensor<3xf32> -> tensor<3x3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<2x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.concatenate axis 2 is out of range for rank 2 (IR axes are in [0, rank))
  %0 = spiral.concatenate %a, %a {axis = 2 : i64} : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<2x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.concatenate axis -1 is out of range for rank 2 (IR axes are in [0, rank))
  %0 = spiral.concatenate %a, %a {axis = -1 : i64} : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x6xf32>
  func.return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.concatenate along axis 0: shapes (2, 3) and (2, 4) differ off that axis
  %0 = spiral.concatenate %a, %b {axis = 0 : i64} : tensor<2x3xf32>, tensor<2x4xf32> -> tensor<4x3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<2x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.concatenate: result type tensor<2x5xf32> does not match the inferred tensor<2x6xf32>
  %0 = spiral.concatenate %a, %a {axis = 1 : i64} : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x5xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %i: tensor<4x2xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.take_along_axis indices must be an integer tensor (i32 or i64), got f32
  %0 = spiral.take_along_axis %x, %i {axis = 1 : i64} : tensor<4x8xf32>, tensor<4x2xf32> -> tensor<4x2xf32>
  func.return
}

// -----

func.func @f(%x: tensor<f32>, %i: tensor<i32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.take_along_axis needs an input of rank >= 1
  %0 = spiral.take_along_axis %x, %i {axis = 0 : i64} : tensor<f32>, tensor<i32> -> tensor<f32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %i: tensor<2xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.take_along_axis indices must have the rank of the input: (4, 8) vs (2,)
  %0 = spiral.take_along_axis %x, %i {axis = 1 : i64} : tensor<4x8xf32>, tensor<2xi32> -> tensor<4x2xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %i: tensor<4x2xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.take_along_axis axis 2 is out of range for rank 2 (IR axes are in [0, rank))
  %0 = spiral.take_along_axis %x, %i {axis = 2 : i64} : tensor<4x8xf32>, tensor<4x2xi32> -> tensor<4x2xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %i: tensor<3x2xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.take_along_axis: input (4, 8) and indices (3, 2) do not broadcast on axis 0 (4 vs 3)
  %0 = spiral.take_along_axis %x, %i {axis = 1 : i64} : tensor<4x8xf32>, tensor<3x2xi32> -> tensor<4x2xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x0xf32>, %i: tensor<4x2xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.take_along_axis cannot take elements from axis 1 of size 0
  %0 = spiral.take_along_axis %x, %i {axis = 1 : i64} : tensor<4x0xf32>, tensor<4x2xi32> -> tensor<4x2xf32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %i: tensor<1x2xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.take_along_axis: result type tensor<1x2xf32> does not match the inferred tensor<4x2xf32>
  %0 = spiral.take_along_axis %x, %i {axis = 1 : i64} : tensor<4x8xf32>, tensor<1x2xi32> -> tensor<1x2xf32>
  func.return
}

// -----

func.func @f(%i: tensor<4x3xf32>, %u: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add indices must be an integer tensor (i32 or i64), got f32
  %0 = spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x3xf32>, tensor<4x3xf32> -> tensor<4x10xf32>
  func.return
}

// -----

func.func @f(%i: tensor<4x3xi64>, %u: tensor<4x3xi1>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add updates must be numeric (bool cannot be summed), got i1
  %0 = spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x3xi64>, tensor<4x3xi1> -> tensor<4x10xi1>
  func.return
}

// -----

func.func @f(%i: tensor<4x3xi64>, %u: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add result dtype f16 differs from the updates dtype f32
  %0 = spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<4x10xf16>
  func.return
}

// -----

func.func @f(%i: tensor<i64>, %u: tensor<f32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add needs updates of rank >= 1
  %0 = spiral.scatter_add %i, %u {axis = 0 : i64} : tensor<i64>, tensor<f32> -> tensor<f32>
  func.return
}

// -----

func.func @f(%i: tensor<4x3xi64>, %u: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add axis 2 is out of range for rank 2 (axes are in [-rank, rank))
  %0 = spiral.scatter_add %i, %u {axis = 2 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<4x10xf32>
  func.return
}

// -----

func.func @f(%i: tensor<4x3xi64>, %u: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add axis -3 is out of range for rank 2 (axes are in [-rank, rank))
  %0 = spiral.scatter_add %i, %u {axis = -3 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<4x10xf32>
  func.return
}

// -----

func.func @f(%i: tensor<4x1xi32>, %u: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add indices and updates must have one shape (broadcast them first): (4, 1) vs (4, 3)
  %0 = spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x1xi32>, tensor<4x3xf32> -> tensor<4x10xf32>
  func.return
}

// -----

func.func @f(%i: tensor<4x3xi64>, %u: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add result rank 3 differs from the updates rank 2
  %0 = spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<4x10x1xf32>
  func.return
}

// -----

func.func @f(%i: tensor<4x3xi64>, %u: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add result shape (5, 10) differs from the updates shape (4, 3) off axis 1 (axis 0: 5 vs 4)
  %0 = spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<5x10xf32>
  func.return
}

// -----

func.func @f(%i: tensor<4x3xi64>, %u: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add cannot add elements into axis 1 of size 0
  %0 = spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<4x0xf32>
  func.return
}

// -----

func.func @f(%i: tensor<4x3xi64>, %u: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.scatter_add: property 'axis' expected
  %0 = spiral.scatter_add %i, %u : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<4x10xf32>
  func.return
}

// -----

func.func @f(%b: tensor<4x8xf32>, %s: tensor<4x3xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice_scatter operands must have one dtype, got f32 and i32
  %0 = spiral.slice_scatter %b, %s {start = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32>, tensor<4x3xi32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%b: tensor<4x8xf32>, %s: tensor<3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice_scatter src rank 1 differs from the base rank 2 (drop or add axes with spiral.reshape)
  %0 = spiral.slice_scatter %b, %s {start = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32>, tensor<3xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%b: tensor<4x8xf32>, %s: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice_scatter start must have 2 entries (the rank), got 1
  %0 = spiral.slice_scatter %b, %s {start = array<i64: 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32>, tensor<4x3xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%b: tensor<4x8xf32>, %s: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice_scatter stride must have 2 entries (the rank), got 3
  %0 = spiral.slice_scatter %b, %s {start = array<i64: 0, 0>, stride = array<i64: 1, 1, 1>} : tensor<4x8xf32>, tensor<4x3xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%b: tensor<4x8xf32>, %s: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice_scatter stride must not be zero (axis 1)
  %0 = spiral.slice_scatter %b, %s {start = array<i64: 0, 0>, stride = array<i64: 1, 0>} : tensor<4x8xf32>, tensor<4x3xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%b: tensor<4x8xf32>, %s: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice_scatter axis 1 writes index 8 (start 2, stride 3, count 3), out of bounds for size 8
  %0 = spiral.slice_scatter %b, %s {start = array<i64: 0, 2>, stride = array<i64: 1, 3>} : tensor<4x8xf32>, tensor<4x3xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%b: tensor<4x8xf32>, %s: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice_scatter axis 0 writes index -1 (start 2, stride -1, count 4), out of bounds for size 4
  %0 = spiral.slice_scatter %b, %s {start = array<i64: 2, 0>, stride = array<i64: -1, 1>} : tensor<4x8xf32>, tensor<4x3xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%b: tensor<4x8xf32>, %s: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice_scatter: result type tensor<4x3xf32> does not match the inferred tensor<4x8xf32>
  %0 = spiral.slice_scatter %b, %s {start = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<4x8xf32>, tensor<4x3xf32> -> tensor<4x3xf32>
  func.return
}

// -----

func.func @f(%b: tensor<4x8xf32>, %s: tensor<4x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.slice_scatter: property 'start' expected
  %0 = spiral.slice_scatter %b, %s {stride = array<i64: 1, 1>} : tensor<4x8xf32>, tensor<4x3xf32> -> tensor<4x8xf32>
  func.return
}

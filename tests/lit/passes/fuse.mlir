// RUN: %stc opt %s -p fuse,dce | filecheck %s
// RUN: %stc opt %s -p fuse,dce | %stc opt - | filecheck %s
// RUN: %stc opt %s -p fuse --explain-fusion 2>&1 >/dev/null | filecheck %s --check-prefix=WHY

// The GELU chain: ten elementwise ops, one kernel; its constants are cloned into the region.
// CHECK-LABEL: func.func @gelu(
// CHECK-NEXT:    %{{.*}} = spiral.fused %x, %a, %b {kind = "elementwise"} : tensor<1024xf32>, tensor<f32>, tensor<f32> -> tensor<1024xf32> {
// CHECK-COUNT-5: spiral.full
// CHECK:         spiral.tanh
// CHECK:         spiral.yield %{{.*}} : tensor<1024xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return
func.func @gelu(%x: tensor<1024xf32>, %a: tensor<f32>, %b: tensor<f32>) -> tensor<1024xf32> {
  %0 = spiral.full {value = 5.000000e-01 : f64} : tensor<f32>
  %1 = spiral.full {value = 3.000000e+00 : f64} : tensor<f32>
  %2 = spiral.full {value = 4.471500e-02 : f64} : tensor<f32>
  %3 = spiral.full {value = 0.79788456 : f64} : tensor<f32>
  %4 = spiral.full {value = 1.000000e+00 : f64} : tensor<f32>
  %5 = spiral.mul %x, %a : tensor<1024xf32>, tensor<f32> -> tensor<1024xf32>
  %6 = spiral.add %5, %b : tensor<1024xf32>, tensor<f32> -> tensor<1024xf32>
  %7 = spiral.mul %0, %6 : tensor<f32>, tensor<1024xf32> -> tensor<1024xf32>
  %8 = spiral.pow %6, %1 : tensor<1024xf32>, tensor<f32> -> tensor<1024xf32>
  %9 = spiral.mul %2, %8 : tensor<f32>, tensor<1024xf32> -> tensor<1024xf32>
  %10 = spiral.add %6, %9 : tensor<1024xf32>, tensor<1024xf32> -> tensor<1024xf32>
  %11 = spiral.mul %3, %10 : tensor<f32>, tensor<1024xf32> -> tensor<1024xf32>
  %12 = spiral.tanh %11 : tensor<1024xf32> -> tensor<1024xf32>
  %13 = spiral.add %4, %12 : tensor<f32>, tensor<1024xf32> -> tensor<1024xf32>
  %14 = spiral.mul %7, %13 : tensor<1024xf32>, tensor<1024xf32> -> tensor<1024xf32>
  func.return %14 : tensor<1024xf32>
}

// Softmax written by hand: sub, exp and the sum they feed are one reduction kernel (exp(x - m) is stored once, for
// the division); the division cannot join it: it works on (4, 8), and only ops on the sum's (4, 1) result may follow it.
// CHECK-LABEL: func.func @softmax_by_hand(
// CHECK:         %[[E:.*]], %[[S:.*]] = spiral.fused %x, %m {kind = "reduction"}
// CHECK:           spiral.sub
// CHECK:           spiral.exp
// CHECK:           spiral.sum
// CHECK:         spiral.div %[[E]], %[[S]]
// WHY: spiral.sum ({{.*}}fuse.mlir:[[# @LINE + 6]]:3): closes the group of spiral.exp ({{.*}}): its input is computed in the reduction loop and never stored
// WHY: spiral.div ({{.*}}fuse.mlir:[[# @LINE + 6]]:3): does not join the group of spiral.exp ({{.*}}), which ends in spiral.sum ({{.*}}): iteration spaces differ: (4, 8) vs the group's (4, 1)
func.func @softmax_by_hand(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %m = spiral.max %x {axes = array<i64: 1>, keepdims = true} : tensor<4x8xf32> -> tensor<4x1xf32>
  %d = spiral.sub %x, %m : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  %e = spiral.exp %d : tensor<4x8xf32> -> tensor<4x8xf32>
  %s = spiral.sum %e {axes = array<i64: 1>, keepdims = true} : tensor<4x8xf32> -> tensor<4x1xf32>
  %r = spiral.div %e, %s : tensor<4x8xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  func.return %r : tensor<4x8xf32>
}

// Different iteration spaces: a row-vector op does not join a matrix group.
// CHECK-LABEL: func.func @shapes(
// CHECK:         spiral.fused %b {kind = "elementwise"} : tensor<8xf32> -> tensor<8xf32>
// CHECK:         spiral.fused %x, %{{.*}} {kind = "elementwise"} : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
// CHECK-NEXT:    ^{{.*}}(%{{.*}}: tensor<4x8xf32>, %{{.*}}: tensor<8xf32>):
// WHY: spiral.add ({{.*}}): does not join the group of spiral.neg ({{.*}}): iteration spaces differ: (4, 8) vs the group's (8,)
func.func @shapes(%x: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %e = spiral.exp %b : tensor<8xf32> -> tensor<8xf32>
  %n = spiral.neg %e : tensor<8xf32> -> tensor<8xf32>
  %y = spiral.add %x, %n : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %z = spiral.relu %y : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return %z : tensor<4x8xf32>
}

// A matmul between two elementwise ops: the add cannot join the exp's group (group -> matmul -> group is a cycle);
// it joins the matmul's instead, as its epilogue (run on each band of C inside the GEMM's kernel), with the relu.
// CHECK-LABEL: func.func @cycle(
// CHECK:         %[[A:.*]] = spiral.exp %x
// CHECK:         spiral.fused %[[A]], %w {kind = "matmul"}
// CHECK:           spiral.matmul
// CHECK:           spiral.add
// CHECK:           spiral.relu
// WHY: spiral.add ({{.*}}fuse.mlir:[[# @LINE + 5]]:3): does not join the group of spiral.exp ({{.*}}): spiral.matmul ({{.*}}) sits between the group and this op (fusing would make a cycle)
// WHY: spiral.add ({{.*}}fuse.mlir:[[# @LINE + 4]]:3): joins the group of spiral.matmul
func.func @cycle(%x: tensor<8x8xf32>, %w: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %a = spiral.exp %x : tensor<8x8xf32> -> tensor<8x8xf32>
  %b = spiral.matmul %a, %w : tensor<8x8xf32>, tensor<8x8xf32> -> tensor<8x8xf32>
  %c = spiral.add %a, %b : tensor<8x8xf32>, tensor<8x8xf32> -> tensor<8x8xf32>
  %d = spiral.relu %c : tensor<8x8xf32> -> tensor<8x8xf32>
  func.return %d : tensor<8x8xf32>
}

// RUN: not %stc opt %s --split-input-file 2>&1 | filecheck %s

func.func @f(%a: tensor<4x8xf32>, %b: tensor<9x3xf32>) -> () {
  // CHECK: error: {{.*}}linalg_invalid.mlir:[[# @LINE + 1]]:3: spiral.matmul inner dimensions differ: (4, 8) @ (9, 3) contracts 8 with 9
  %0 = spiral.matmul %a, %b : tensor<4x8xf32>, tensor<9x3xf32> -> tensor<4x3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<8xf32>, %b: tensor<8x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.matmul operands must have rank >= 2, got shapes (8,) and (8, 3)
  %0 = spiral.matmul %a, %b : tensor<8xf32>, tensor<8x3xf32> -> tensor<3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<2x4x8xf32>, %b: tensor<3x8x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.matmul batch dimensions (2,) and (3,) do not broadcast
  %0 = spiral.matmul %a, %b : tensor<2x4x8xf32>, tensor<3x8x3xf32> -> tensor<2x4x3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<8x3xf16>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.matmul operands must have one dtype, got f32 and f16
  %0 = spiral.matmul %a, %b : tensor<4x8xf32>, tensor<8x3xf16> -> tensor<4x3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xi1>, %b: tensor<8x3xi1>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.matmul does not accept bool operands
  %0 = spiral.matmul %a, %b : tensor<4x8xi1>, tensor<8x3xi1> -> tensor<4x3xi1>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<8x3xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.matmul: result type tensor<4x3xf16> does not match the inferred tensor<4x3xf32>
  %0 = spiral.matmul %a, %b : tensor<4x8xf32>, tensor<8x3xf32> -> tensor<4x3xf16>
  func.return
}

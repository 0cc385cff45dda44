// RUN: not %stc opt %s --split-input-file 2>&1 | filecheck %s

func.func @f(%a: tensor<4x8xf32>, %b: tensor<9xf32>) -> () {
  // CHECK: error: {{.*}}elementwise_invalid.mlir:[[# @LINE + 1]]:3: spiral.add: shapes (4, 8) and (9,) do not broadcast: axis -1 has 8 vs 9
  %0 = spiral.add %a, %b : tensor<4x8xf32>, tensor<9xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %b: tensor<8xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.mul operands must have one dtype, got f32 and i32
  %0 = spiral.mul %a, %b : tensor<4x8xf32>, tensor<8xi32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.add: result type tensor<4x4xf32> does not match the inferred tensor<4x8xf32>
  %0 = spiral.add %a, %a : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x4xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4xi32>) -> () {
  // CHECK: error: {{.*}}: spiral.exp expects a floating-point tensor, got i32
  %0 = spiral.exp %a : tensor<4xi32> -> tensor<4xi32>
  func.return
}

// -----

func.func @f(%a: tensor<4xi32>) -> () {
  // CHECK: error: {{.*}}: spiral.div expects floating-point operands, got i32
  %0 = spiral.div %a, %a : tensor<4xi32>, tensor<4xi32> -> tensor<4xi32>
  func.return
}

// -----

func.func @f(%a: tensor<4xi1>) -> () {
  // CHECK: error: {{.*}}: spiral.neg does not accept bool tensors
  %0 = spiral.neg %a : tensor<4xi1> -> tensor<4xi1>
  func.return
}

// -----

func.func @f(%a: tensor<4xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.logical_not expects a bool (i1) tensor, got f32
  %0 = spiral.logical_not %a : tensor<4xf32> -> tensor<4xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4xi1>) -> () {
  // CHECK: error: {{.*}}: spiral.add does not accept bool operands
  %0 = spiral.add %a, %a : tensor<4xi1>, tensor<4xi1> -> tensor<4xi1>
  func.return
}

// -----

func.func @f(%a: tensor<4xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.logical_or expects bool (i1) operands, got f32
  %0 = spiral.logical_or %a, %a : tensor<4xf32>, tensor<4xf32> -> tensor<4xi1>
  func.return
}

// -----

func.func @f(%a: tensor<4xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.where condition must be a bool (i1) tensor, got f32
  %0 = spiral.where %a, %a, %a : tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  func.return
}

// -----

func.func @f(%c: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf16>) -> () {
  // CHECK: error: {{.*}}: spiral.where operands must have one dtype, got f32 and f16
  %0 = spiral.where %c, %a, %b : tensor<4xi1>, tensor<4xf32>, tensor<4xf16> -> tensor<4xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.astype must keep the shape: (4,) -> (2, 2)
  %0 = spiral.astype %a : tensor<4xf32> -> tensor<2x2xi32>
  func.return
}

// -----

func.func @f(%a: tensor<4xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.gelu approximate must be "none" or "tanh", got "erf"
  %0 = spiral.gelu %a {approximate = "erf"} : tensor<4xf32> -> tensor<4xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4xf32>) -> () {
  // CHECK: error: {{.*}}: values used but not defined: [%zz]
  %0 = spiral.add %a, %zz : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  func.return
}

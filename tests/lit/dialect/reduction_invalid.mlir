// RUN: not %stc opt %s --split-input-file 2>&1 | filecheck %s

func.func @f(%a: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}reduction_invalid.mlir:[[# @LINE + 1]]:3: spiral.sum: axis 2 is out of range for a tensor of rank 2
  %0 = spiral.sum %a {axes = array<i64: 2>} : tensor<4x8xf32> -> tensor<4xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.mean: axis -3 is out of range for a tensor of rank 2
  %0 = spiral.mean %a {axes = array<i64: -3>} : tensor<4x8xf32> -> tensor<4xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.sum: repeated axis in (1, -1)
  %0 = spiral.sum %a {axes = array<i64: 1, -1>} : tensor<4x8xf32> -> tensor<4xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.sum: result type tensor<4x1xf32> does not match the inferred tensor<4xf32>
  %0 = spiral.sum %a {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.max: result type tensor<8xf64> does not match the inferred tensor<8xf32>
  %0 = spiral.max %a {axes = array<i64: 0>} : tensor<4x8xf32> -> tensor<8xf64>
  func.return
}

// -----

func.func @f(%a: tensor<4xi1>) -> () {
  // CHECK: error: {{.*}}: spiral.sum does not accept bool tensors (cast to an integer type first)
  %0 = spiral.sum %a {axes = array<i64: 0>} : tensor<4xi1> -> tensor<i1>
  func.return
}

// -----

func.func @f(%a: tensor<4xi32>) -> () {
  // CHECK: error: {{.*}}: spiral.mean expects a floating-point tensor, got i32
  %0 = spiral.mean %a {axes = array<i64: 0>} : tensor<4xi32> -> tensor<i32>
  func.return
}

// -----

func.func @f(%a: tensor<4xi64>) -> () {
  // CHECK: error: {{.*}}: spiral.logsumexp expects a floating-point tensor, got i64
  %0 = spiral.logsumexp %a {axes = array<i64: 0>} : tensor<4xi64> -> tensor<i64>
  func.return
}

// -----

func.func @f(%a: tensor<0x8xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.max cannot reduce an empty axis: axis 0 of shape (0, 8) has size 0
  %0 = spiral.max %a {axes = array<i64: 0>} : tensor<0x8xf32> -> tensor<8xf32>
  func.return
}

// -----

func.func @f(%a: tensor<3x0xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.min cannot reduce an empty axis: axis 1 of shape (3, 0) has size 0
  %0 = spiral.min %a {axes = array<i64: 0, 1>} : tensor<3x0xf32> -> tensor<f32>
  func.return
}

// -----

func.func @f(%a: tensor<3x0xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.argmax cannot reduce an empty axis: axis 1 of shape (3, 0) has size 0
  %0 = spiral.argmax %a {axis = -1 : i64} : tensor<3x0xf32> -> tensor<3xi64>
  func.return
}

// -----

func.func @f(%a: tensor<3x0xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.argmin cannot reduce an empty axis: the tensor of shape (3, 0) has no elements
  %0 = spiral.argmin %a : tensor<3x0xf32> -> tensor<i64>
  func.return
}

// -----

func.func @f(%a: tensor<3x4xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.argmax: axis 2 is out of range for a tensor of rank 2
  %0 = spiral.argmax %a {axis = 2 : i64} : tensor<3x4xf32> -> tensor<3xi64>
  func.return
}

// -----

func.func @f(%a: tensor<3x4xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.argmin: result type tensor<3xi32> does not match the inferred tensor<3xi64>
  %0 = spiral.argmin %a {axis = 1 : i64} : tensor<3x4xf32> -> tensor<3xi32>
  func.return
}

// -----

func.func @f(%a: tensor<3x4xf32>) -> () {
  // CHECK: error: {{.*}}: spiral.argmax: result type tensor<i64> does not match the inferred tensor<1x1xi64>
  %0 = spiral.argmax %a {keepdims = true} : tensor<3x4xf32> -> tensor<i64>
  func.return
}

// -----

func.func @f(%a: tensor<3x4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.sum: property 'axes' expected in operation 'spiral.sum'
  %0 = spiral.sum %a : tensor<3x4xf32> -> tensor<f32>
  func.return
}

// -----

func.func @f(%a: tensor<3x4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.sum axes must be an array<i64: ...>, got array<i32: 1>
  %0 = spiral.sum %a {axes = array<i32: 1>} : tensor<3x4xf32> -> tensor<3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<3x4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.max: Expected attribute i1 but got i64
  %0 = spiral.max %a {axes = array<i64: 1>, keepdims = 1} : tensor<3x4xf32> -> tensor<3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<3x4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.argmax: Expected attribute i64 but got i32
  %0 = "spiral.argmax"(%a) <{axis = 1 : i32}> : (tensor<3x4xf32>) -> tensor<3xi64>
  func.return
}

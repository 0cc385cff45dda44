// RUN: not %stc opt %s --split-input-file 2>&1 | filecheck %s

func.func @f(%x: tensor<8x128xf32>) -> () {
  // CHECK: error: {{.*}}rankk_invalid.mlir:[[# @LINE + 1]]:3: spiral.rankk k = 300 exceeds the length 128 of axis 1
  %v, %i = spiral.rankk %x {kind = "top", k = 300} : tensor<8x128xf32> -> tensor<8x300xf32>, tensor<8x300xi64>
  func.return
}

// -----

func.func @f(%x: tensor<8x128xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk k = 9 exceeds the length 8 of axis 0
  %v, %i = spiral.rankk %x {kind = "mid", k = 9, axis = -2} : tensor<8x128xf32> -> tensor<9x128xf32>, tensor<9x128xi64>
  func.return
}

// -----

func.func @f(%x: tensor<8x128xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk k = 0 must be at least 1
  %v, %i = spiral.rankk %x {kind = "bottom", k = 0} : tensor<8x128xf32> -> tensor<8x0xf32>, tensor<8x0xi64>
  func.return
}

// -----

func.func @f(%x: tensor<8x128xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk axis 2 is out of range for a tensor of rank 2
  %v, %i = spiral.rankk %x {kind = "top", k = 2, axis = 2} : tensor<8x128xf32> -> tensor<8x2xf32>, tensor<8x2xi64>
  func.return
}

// -----

func.func @f(%x: tensor<8x128xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk axis -3 is out of range for a tensor of rank 2
  %v, %i = spiral.rankk %x {kind = "top", k = 2, axis = -3} : tensor<8x128xf32> -> tensor<8x2xf32>, tensor<8x2xi64>
  func.return
}

// -----

func.func @f(%x: tensor<8x128xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk kind must be "top", "mid" or "bottom", got "topk"
  %v, %i = spiral.rankk %x {kind = "topk", k = 2} : tensor<8x128xf32> -> tensor<8x2xf32>, tensor<8x2xi64>
  func.return
}

// -----

func.func @f(%x: tensor<f32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk needs a tensor of rank >= 1, got a 0-d tensor
  %v, %i = spiral.rankk %x {kind = "top", k = 1} : tensor<f32> -> tensor<f32>, tensor<i64>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xi1>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk does not accept bool tensors (rank an integer or float tensor)
  %v, %i = spiral.rankk %x {kind = "top", k = 2} : tensor<4x8xi1> -> tensor<4x2xi1>, tensor<4x2xi64>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk values must have the input dtype f32, got f16
  %v, %i = spiral.rankk %x {kind = "top", k = 2} : tensor<4x8xf32> -> tensor<4x2xf16>, tensor<4x2xi64>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk indices must be i64, got i32
  %v, %i = spiral.rankk %x {kind = "top", k = 2} : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<4x2xi32>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk values shape (4, 3) should be (4, 2): the input (4, 8) with axis 1 of length k = 2
  %v, %i = spiral.rankk %x {kind = "top", k = 2} : tensor<4x8xf32> -> tensor<4x3xf32>, tensor<4x2xi64>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk indices shape (2, 8) should be (4, 2): the input (4, 8) with axis 1 of length k = 2
  %v, %i = spiral.rankk %x {kind = "top", k = 2} : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<2x8xi64>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk: property 'k' expected in operation 'spiral.rankk'
  %v, %i = spiral.rankk %x {kind = "top"} : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<4x2xi64>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk: property 'kind' expected in operation 'spiral.rankk'
  %v, %i = spiral.rankk %x {k = 2} : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<4x2xi64>
  func.return
}

// -----

func.func @f(%x: tensor<4x8xi8>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.rankk: unsupported element type i8; supported: f64, f32, f16, bf16, i64, i32, i1
  %v, %i = spiral.rankk %x {kind = "top", k = 2} : tensor<4x8xi8> -> tensor<4x2xi8>, tensor<4x2xi64>
  func.return
}

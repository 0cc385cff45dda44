// RUN: not %stc opt %s --split-input-file 2>&1 | filecheck %s

func.func @f(%a: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}nn_invalid.mlir:[[# @LINE + 1]]:3: spiral.softmax: axis 2 is out of range for a tensor of rank 2
  %0 = spiral.softmax %a {axis = 2 : i64} : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%a: tensor<f32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.log_softmax: axis -1 is out of range for a tensor of rank 0
  %0 = spiral.log_softmax %a {axis = -1 : i64} : tensor<f32> -> tensor<f32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.softmax expects a floating-point tensor, got i32
  %0 = spiral.softmax %a {axis = 1 : i64} : tensor<4x8xi32> -> tensor<4x8xi32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.log_softmax: result type tensor<4x8xf16> does not match the inferred tensor<4x8xf32>
  %0 = spiral.log_softmax %a {axis = 1 : i64} : tensor<4x8xf32> -> tensor<4x8xf16>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.softmax: property 'axis' expected in operation 'spiral.softmax'
  %0 = spiral.softmax %a : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %l: tensor<4xi64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.cross_entropy reduction must be "mean", "sum" or "none", got "avg"
  %0 = spiral.cross_entropy %a, %l {reduction = "avg"} : tensor<4x8xf32>, tensor<4xi64> -> tensor<f32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xi32>, %l: tensor<4xi64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.cross_entropy logits must be a floating-point tensor, got i32
  %0 = spiral.cross_entropy %a, %l {reduction = "mean"} : tensor<4x8xi32>, tensor<4xi64> -> tensor<i32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %l: tensor<4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.cross_entropy labels must be an integer tensor (i32 or i64) of class indices, got f32
  %0 = spiral.cross_entropy %a, %l {reduction = "mean"} : tensor<4x8xf32>, tensor<4xf32> -> tensor<f32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %l: tensor<4xi1>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.nll_loss labels must be an integer tensor (i32 or i64) of class indices, got i1
  %0 = spiral.nll_loss %a, %l {reduction = "mean"} : tensor<4x8xf32>, tensor<4xi1> -> tensor<f32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %l: tensor<8xi64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.cross_entropy labels shape (8,) must equal the logits shape without its last (class) axis: logits (4, 8) needs labels (4,)
  %0 = spiral.cross_entropy %a, %l {reduction = "mean"} : tensor<4x8xf32>, tensor<8xi64> -> tensor<f32>
  func.return
}

// -----

func.func @f(%a: tensor<2x4x8xf32>, %l: tensor<4xi64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.nll_loss labels shape (4,) must equal the log_probs shape without its last (class) axis: log_probs (2, 4, 8) needs labels (2, 4)
  %0 = spiral.nll_loss %a, %l {reduction = "none"} : tensor<2x4x8xf32>, tensor<4xi64> -> tensor<2x4xf32>
  func.return
}

// -----

func.func @f(%a: tensor<f32>, %l: tensor<i64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.cross_entropy logits must have rank >= 1 (classes on the last axis), got a 0-d tensor
  %0 = spiral.cross_entropy %a, %l {reduction = "mean"} : tensor<f32>, tensor<i64> -> tensor<f32>
  func.return
}

// -----

func.func @f(%a: tensor<4x0xf32>, %l: tensor<4xi64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.cross_entropy needs at least one class: logits shape (4, 0) has an empty last axis
  %0 = spiral.cross_entropy %a, %l {reduction = "mean"} : tensor<4x0xf32>, tensor<4xi64> -> tensor<f32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %l: tensor<4xi64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.cross_entropy: result type tensor<4xf32> does not match the inferred tensor<f32>
  %0 = spiral.cross_entropy %a, %l {reduction = "mean"} : tensor<4x8xf32>, tensor<4xi64> -> tensor<4xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %l: tensor<4xi64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.nll_loss: result type tensor<f32> does not match the inferred tensor<4xf32>
  %0 = spiral.nll_loss %a, %l {reduction = "none"} : tensor<4x8xf32>, tensor<4xi64> -> tensor<f32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %l: tensor<4xi64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.nll_loss: property 'reduction' expected in operation 'spiral.nll_loss'
  %0 = spiral.nll_loss %a, %l : tensor<4x8xf32>, tensor<4xi64> -> tensor<f32>
  func.return
}

// -----

func.func @f(%l: tensor<4xi64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.one_hot num_classes must be >= 1, got 0
  %0 = spiral.one_hot %l {num_classes = 0 : i64} : tensor<4xi64> -> tensor<4x0xf32>
  func.return
}

// -----

func.func @f(%l: tensor<4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.one_hot labels must be an integer tensor (i32 or i64) of class indices, got f32
  %0 = spiral.one_hot %l {num_classes = 3 : i64} : tensor<4xf32> -> tensor<4x3xf32>
  func.return
}

// -----

func.func @f(%l: tensor<4xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.one_hot result shape (4, 4) must be the labels shape followed by num_classes: (4, 3)
  %0 = spiral.one_hot %l {num_classes = 3 : i64} : tensor<4xi32> -> tensor<4x4xf32>
  func.return
}

// -----

func.func @f(%l: tensor<4xi32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.one_hot: property 'num_classes' expected in operation 'spiral.one_hot'
  %0 = spiral.one_hot %l : tensor<4xi32> -> tensor<4x3xf32>
  func.return
}

// -----

func.func @f(%a: tensor<4x8xf32>, %l: tensor<4xi64>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.cross_entropy: 1 : i64 should be of base attribute string
  %0 = "spiral.cross_entropy"(%a, %l) <{reduction = 1 : i64}> : (tensor<4x8xf32>, tensor<4xi64>) -> tensor<f32>
  func.return
}

// RUN: not %stc opt %s --split-input-file 2>&1 | filecheck %s

func.func private @f(%x: tensor<4xf32>) -> tensor<f32> {
  %s = spiral.sum %x {axes = array<i64: 0>} : tensor<4xf32> -> tensor<f32>
  func.return %s : tensor<f32>
}
func.func @main(%x: tensor<4xf32>, %one: tensor<f32>) -> () {
  // CHECK: error: {{.*}}autodiff_invalid.mlir:[[# @LINE + 1]]:3: spiral.vjp wrt [1] must list distinct argument positions in [0, 1)
  %y, %g = spiral.vjp @f(%x : tensor<4xf32>) cotangents(%one : tensor<f32>) {wrt = array<i64: 1>} -> tensor<f32>, tensor<4xf32>
  func.return
}

// -----

func.func private @f(%x: tensor<4xi32>) -> tensor<i32> {
  %s = spiral.sum %x {axes = array<i64: 0>} : tensor<4xi32> -> tensor<i32>
  func.return %s : tensor<i32>
}
func.func @main(%x: tensor<4xi32>, %one: tensor<i32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.vjp cannot differentiate with respect to argument 0 of integer/bool type tensor<4xi32>
  %y, %g = spiral.vjp @f(%x : tensor<4xi32>) cotangents(%one : tensor<i32>) {wrt = array<i64: 0>} -> tensor<i32>, tensor<4xi32>
  func.return
}

// -----

func.func @main(%x: tensor<4xf32>, %one: tensor<f32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.vjp refers to @nowhere, which is not a function of this module
  %y, %g = spiral.vjp @nowhere(%x : tensor<4xf32>) cotangents(%one : tensor<f32>) {wrt = array<i64: 0>} -> tensor<f32>, tensor<4xf32>
  func.return
}

// -----

func.func private @f(%x: tensor<4xf32>) -> tensor<f32> {
  %s = spiral.sum %x {axes = array<i64: 0>} : tensor<4xf32> -> tensor<f32>
  func.return %s : tensor<f32>
}
func.func @main(%x: tensor<8xf32>, %one: tensor<f32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.vjp argument types do not match @f's inputs
  %y, %g = spiral.vjp @f(%x : tensor<8xf32>) cotangents(%one : tensor<f32>) {wrt = array<i64: 0>} -> tensor<f32>, tensor<8xf32>
  func.return
}

// -----

func.func private @f(%x: tensor<4xf32>) -> tensor<f32> {
  %s = spiral.sum %x {axes = array<i64: 0>} : tensor<4xf32> -> tensor<f32>
  func.return %s : tensor<f32>
}
func.func @main(%x: tensor<4xf32>, %one: tensor<4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.vjp needs one cotangent per callee result with the result's type
  %y, %g = spiral.vjp @f(%x : tensor<4xf32>) cotangents(%one : tensor<4xf32>) {wrt = array<i64: 0>} -> tensor<f32>, tensor<4xf32>
  func.return
}

// -----

func.func private @f(%x: tensor<4xf32>) -> tensor<f32> {
  %s = spiral.sum %x {axes = array<i64: 0>} : tensor<4xf32> -> tensor<f32>
  func.return %s : tensor<f32>
}
func.func @main(%x: tensor<4xf32>, %one: tensor<f32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.vjp results must be the callee's results followed by one gradient per wrt argument (of the argument's type)
  %y, %g = spiral.vjp @f(%x : tensor<4xf32>) cotangents(%one : tensor<f32>) {wrt = array<i64: 0>} -> tensor<f32>, tensor<f32>
  func.return
}

// -----

func.func private @f(%x: tensor<4xf32>) -> tensor<f32> {
  %s = spiral.sum %x {axes = array<i64: 0>} : tensor<4xf32> -> tensor<f32>
  func.return %s : tensor<f32>
}
func.func @main(%x: tensor<4xf32>, %t: tensor<f32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.jvp needs one tangent per wrt argument with the argument's type
  %y, %g = spiral.jvp @f(%x : tensor<4xf32>) tangents(%t : tensor<f32>) {wrt = array<i64: 0>} -> tensor<f32>, tensor<f32>
  func.return
}

// -----

func.func private @f(%x: tensor<4xf32>) -> tensor<f32> {
  %s = spiral.sum %x {axes = array<i64: 0>} : tensor<4xf32> -> tensor<f32>
  func.return %s : tensor<f32>
}
func.func @main(%x: tensor<4xf32>) -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.jvp results must be the callee's results followed by one tangent each
  %y, %g = spiral.jvp @f(%x : tensor<4xf32>) tangents(%x : tensor<4xf32>) {wrt = array<i64: 0>} -> tensor<f32>, tensor<4xf32>
  func.return
}

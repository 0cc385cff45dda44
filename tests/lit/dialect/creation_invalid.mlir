// RUN: not %stc opt %s --split-input-file 2>&1 | filecheck %s

func.func @f() -> () {
  // CHECK: error: {{.*}}creation_invalid.mlir:[[# @LINE + 1]]:3: spiral.constant: constant of type tensor<2xf32> cannot produce tensor<3xf32>
  %0 = "spiral.constant"() <{value = dense<[1.0, 2.0]> : tensor<2xf32>}> : () -> tensor<3xf32>
  func.return
}

// -----

func.func @f() -> () {
  // CHECK: error: {{.*}}:{{[0-9]+}}:{{[0-9]+}}: spiral.constant expects a dense<...> : tensor<...> attribute
  %0 = spiral.constant 1.0 : f32
  func.return
}

// -----

func.func @f() -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.full cannot fill an i32 tensor with inf
  %0 = spiral.full {value = 0x7FF0000000000000 : f64} : tensor<2xi32>
  func.return
}

// -----

func.func @f() -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.full: property 'value' expected
  %0 = spiral.full : tensor<2xf32>
  func.return
}

// -----

func.func @f() -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.arange produces a 1-D tensor, got tensor<2x2xf32>
  %0 = spiral.arange {start = 0 : i64, step = 1 : i64} : tensor<2x2xf32>
  func.return
}

// -----

func.func @f() -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.arange cannot produce a bool tensor
  %0 = spiral.arange {start = 0 : i64, step = 1 : i64} : tensor<2xi1>
  func.return
}

// -----

func.func @f() -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.arange step must not be zero
  %0 = spiral.arange {start = 0 : i64, step = 0 : i64} : tensor<4xi64>
  func.return
}

// -----

func.func @f() -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.arange step must not be zero
  %0 = spiral.arange {start = 1.5 : f64, step = 0.0 : f64} : tensor<4xf32>
  func.return
}

// -----

func.func @f() -> () {
  // CHECK: error: {{.*}}:[[# @LINE + 1]]:3: spiral.full value 1099511627776 is out of range for i32 ([-2147483648, 2147483647])
  %0 = spiral.full {value = 1099511627776 : i64} : tensor<2xi32>
  func.return
}

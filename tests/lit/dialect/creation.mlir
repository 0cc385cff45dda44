// RUN: %stc opt %s | filecheck %s
// RUN: %stc opt %s | %stc opt - | filecheck %s
// RUN: %stc opt %s --generic | %stc opt - | filecheck %s

// CHECK-LABEL: func.func @constant(
func.func @constant() -> () {
  // CHECK-NEXT: %{{.*}} = spiral.constant dense<[[1.500000e+00, -2.250000e+00], [3.000000e+00, 1.000000e-01]]> : tensor<2x2xf32>
  %0 = spiral.constant dense<[[1.5, -2.25], [3.0, 0.1]]> : tensor<2x2xf32>
  // CHECK-NEXT: spiral.constant dense<[9.997560e-02, 6.550400e+04]> : tensor<2xf16>
  %1 = spiral.constant dense<[0.1, 65504.0]> : tensor<2xf16>
  // CHECK-NEXT: spiral.constant dense<[1.000000e+00, -3.000000e+00, 2.560000e+02]> : tensor<3xbf16>
  %2 = spiral.constant dense<[1.0, -3.0, 256.0]> : tensor<3xbf16>
  // CHECK-NEXT: spiral.constant dense<[true, false, true]> : tensor<3xi1>
  %3 = spiral.constant dense<[true, false, true]> : tensor<3xi1>
  // CHECK-NEXT: spiral.constant dense<[2147483647, -2147483648]> : tensor<2xi32>
  %4 = spiral.constant dense<[2147483647, -2147483648]> : tensor<2xi32>
  // CHECK-NEXT: spiral.constant dense<[4611686018427387904, -5]> : tensor<2xi64>
  %5 = spiral.constant dense<[4611686018427387904, -5]> : tensor<2xi64>
  // CHECK-NEXT: spiral.constant dense<1.250000e+00> : tensor<f64>
  %6 = spiral.constant dense<1.25> : tensor<f64>
  // CHECK-NEXT: spiral.constant dense<7> : tensor<2x3xi32>
  %7 = spiral.constant dense<7> : tensor<2x3xi32>
  func.return
}

// CHECK-LABEL: func.func @full(
func.func @full() -> () {
  // CHECK-NEXT: spiral.full {value = 5.000000e-01 : f64} : tensor<4x8xf32>
  %0 = spiral.full {value = 0.5 : f64} : tensor<4x8xf32>
  // CHECK-NEXT: spiral.full {value = 3 : i64} : tensor<2xi32>
  %1 = spiral.full {value = 3 : i64} : tensor<2xi32>
  // CHECK-NEXT: spiral.full {value = true} : tensor<2x2xi1>
  %2 = spiral.full {value = true} : tensor<2x2xi1>
  // CHECK-NEXT: spiral.full {value = 0x7ff0000000000000 : f64} : tensor<3xf16>
  %3 = spiral.full {value = 0x7FF0000000000000 : f64} : tensor<3xf16>
  // CHECK-NEXT: spiral.full {value = -1.500000e+00 : f64} : tensor<bf16>
  %4 = spiral.full {value = -1.5 : f64} : tensor<bf16>
  // CHECK-NEXT: spiral.full {value = 0 : i64} : tensor<0x4xi64>
  %5 = spiral.full {value = 0 : i64} : tensor<0x4xi64>
  func.return
}

// CHECK-LABEL: func.func @arange(
func.func @arange() -> () {
  // CHECK-NEXT: spiral.arange {start = 0 : i64, step = 1 : i64} : tensor<5xi64>
  %0 = spiral.arange {start = 0 : i64, step = 1 : i64} : tensor<5xi64>
  // CHECK-NEXT: spiral.arange {start = 9 : i64, step = -2 : i64} : tensor<4xi32>
  %1 = spiral.arange {start = 9 : i64, step = -2 : i64} : tensor<4xi32>
  // CHECK-NEXT: spiral.arange {start = 1.000000e+00 : f64, step = 2.500000e-01 : f64} : tensor<4xf32>
  %2 = spiral.arange {start = 1.0 : f64, step = 0.25 : f64} : tensor<4xf32>
  // CHECK-NEXT: spiral.arange {start = 0 : i64, step = 3 : i64} : tensor<0xf64>
  %3 = spiral.arange {start = 0 : i64, step = 3 : i64} : tensor<0xf64>
  func.return
}

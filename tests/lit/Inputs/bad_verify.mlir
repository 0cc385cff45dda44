// parses, but does not verify
func.func @f(%a: tensor<4xf32>, %b: tensor<5xf32>) -> tensor<4xf32> {
  %0 = spiral.add %a, %b : tensor<4xf32>, tensor<5xf32> -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// not valid IR: the op name is unknown
func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = spiral.frobnicate %a : tensor<4xf32> -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

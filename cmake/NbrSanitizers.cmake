# -DNBR_SANITIZE=ON builds everything with ASan + UBSan; any finding aborts.
if(NBR_SANITIZE)
  set(_nbr_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${_nbr_san})
  add_link_options(${_nbr_san})
endif()

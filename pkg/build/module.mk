build_DEPS := image registry api util

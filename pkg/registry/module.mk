registry_DEPS := util

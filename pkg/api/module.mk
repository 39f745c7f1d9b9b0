api_DEPS := util

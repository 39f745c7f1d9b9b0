metrics_DEPS := util

workqueue_DEPS := util

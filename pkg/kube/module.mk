kube_DEPS := util

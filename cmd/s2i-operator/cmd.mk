s2i-operator_DEPS := controller server leader informer workqueue api metrics kube util

s2i-operator_DEPS := httpapi controller server leader informer workqueue api metrics kube util

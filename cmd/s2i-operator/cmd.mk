s2i-operator_DEPS := controller informer workqueue api kube util

s2i-operator_DEPS := controller informer workqueue kube util

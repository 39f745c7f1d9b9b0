s2i-operator_DEPS := httpapi webhook controller server leader informer workqueue api metrics kube util

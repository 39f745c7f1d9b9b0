controller_DEPS := informer workqueue api kube util

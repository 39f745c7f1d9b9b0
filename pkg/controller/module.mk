controller_DEPS := informer workqueue kube util

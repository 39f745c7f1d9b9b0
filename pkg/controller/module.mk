controller_DEPS := informer workqueue api metrics kube util

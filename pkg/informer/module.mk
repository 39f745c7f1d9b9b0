informer_DEPS := kube util

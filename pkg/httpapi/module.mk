httpapi_DEPS := server metrics controller informer workqueue api kube util

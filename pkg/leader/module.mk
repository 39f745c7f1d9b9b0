leader_DEPS := kube util

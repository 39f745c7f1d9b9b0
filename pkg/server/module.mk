server_DEPS := metrics util

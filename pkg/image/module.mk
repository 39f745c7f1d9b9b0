image_DEPS := registry util

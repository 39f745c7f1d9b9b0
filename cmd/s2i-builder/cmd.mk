s2i-builder_DEPS := build image registry api util
# The builder is shipped with its shared libraries (hack/bundle.sh): link only those it uses.
$(BUILD)/bin/s2i-builder: LDFLAGS += -Wl,--as-needed
# The bundle the build pod runs in foreign images (hack/bundle.sh; pkg/build/build.h):
# built with the binaries, so every `make` leaves a prepare-image-ready directory.
S2I_BUILDER_BUNDLE := $(BUILD)/bundle/s2i-builder
all: $(S2I_BUILDER_BUNDLE)/bundle.txt
$(S2I_BUILDER_BUNDLE)/bundle.txt: $(BUILD)/bin/s2i-builder hack/bundle.sh
	hack/bundle.sh $< $(S2I_BUILDER_BUNDLE)

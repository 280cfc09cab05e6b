// Compile-only stub of androidx.camera.core.resolutionselector.ResolutionSelector from androidx.camera:camera-core 1.5.3: the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.camera.core.resolutionselector;

public final class ResolutionSelector {
    ResolutionSelector() { throw new RuntimeException("Stub!"); }
    public static final class Builder {
        public Builder() { throw new RuntimeException("Stub!"); }
        public Builder setResolutionStrategy(ResolutionStrategy resolutionStrategy) { throw new RuntimeException("Stub!"); }
        public ResolutionSelector build() { throw new RuntimeException("Stub!"); }
    }
}

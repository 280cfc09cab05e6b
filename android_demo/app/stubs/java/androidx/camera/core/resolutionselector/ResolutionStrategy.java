// Compile-only stub of androidx.camera.core.resolutionselector.ResolutionStrategy from androidx.camera:camera-core 1.5.3: the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.camera.core.resolutionselector;

public final class ResolutionStrategy {
    public static final int FALLBACK_RULE_NONE = 0;
    public static final int FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER = 1;
    public ResolutionStrategy(android.util.Size boundSize, int fallbackRule) { throw new RuntimeException("Stub!"); }
}

// Compile-only stub of androidx.camera.view.PreviewView from androidx.camera:camera-view 1.5.3: the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.camera.view;

public final class PreviewView extends android.widget.FrameLayout {
    public PreviewView(android.content.Context context) { super(context); throw new RuntimeException("Stub!"); }
    public androidx.camera.core.Preview.SurfaceProvider getSurfaceProvider() { throw new RuntimeException("Stub!"); }
}

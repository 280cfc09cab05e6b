// Compile-only stub of androidx.appcompat.app.AppCompatActivity from androidx.appcompat:appcompat 1.7.1: the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.appcompat.app;

public class AppCompatActivity extends androidx.fragment.app.FragmentActivity { public AppCompatActivity() { throw new RuntimeException("Stub!"); } }

// Compile-only stub of org.tensorflow.lite.DataType from com.google.ai.edge.litert:litert 1.4.2 (package org.tensorflow.lite): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package org.tensorflow.lite;

public enum DataType { FLOAT32, INT32, UINT8, INT64, STRING, BOOL, INT16, INT8, FLOAT16 }

// AR-Net Edge Android demo. This folder is the Gradle root (and the application module);
// the platform-free core is the JVM module :core, built from ../core.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "arnet-edge-demo"

include(":core")
project(":core").projectDir = file("../core")

//! Custom resource types (`ConnectCluster`, `Connector`, group `kconnect.dev`).

import Foundation
import Logging

extension TileServer {
    /// Before accepting connections: room for `maxConnections` sockets, and no upload left half-written
    /// by a process that died in the middle of one.
    func prepareForClients() {
        // Sockets plus what the process needs besides: databases, rasters being written, GDAL's files.
        let needed = settings.clients.maxConnections + 256
        let available = FileDescriptorLimit.raise(toAtLeast: needed)
        if available < needed {
            logger.warning("the open-file limit is below what --max-connections needs; raise the hard limit (ulimit -Hn)",
                           metadata: ["limit": "\(available)", "needed": "\(needed)"])
        }
        let removed = UploadLeftovers.removeAll(under: library.root.appendingPathComponent("uploads"))
        if removed > 0 { logger.notice("removed unfinished uploads", metadata: ["count": "\(removed)"]) }
    }
}

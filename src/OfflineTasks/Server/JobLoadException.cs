namespace OfflineTasks.Server;

/// <summary>A stored job that cannot be run at all (its type or method is gone, or its arguments do not deserialize). It fails without retries.</summary>
internal sealed class JobLoadException(string message, Exception? inner = null) : Exception(message, inner);

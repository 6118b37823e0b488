using System.Text.Json;

namespace OfflineTasks.Internal;

/// <summary>The one set of JSON options used for job arguments, on both the client and the server side.</summary>
internal static class JobJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General)
    {
        WriteIndented = false,
    };
}

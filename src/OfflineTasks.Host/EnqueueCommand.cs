using System.Globalization;
using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.Extensions.Configuration;
using OfflineTasks.Host.Examples;

namespace OfflineTasks.Host;

/// <summary>
/// <c>offlinetasks enqueue SHARD COUNT</c>: enqueues COUNT example jobs (<see cref="IPhotoIndexer.ReindexAsync"/>) of
/// shard <c>users-SHARD</c> into the configured Hangfire storage, prints their ids and exits; the worker fleet runs them
/// (or parks them while the shard is closed). For trying the fleet out, and for the compose stack's smoke test.
/// </summary>
internal static class EnqueueCommand
{
    public static int Run(string[] args, IConfiguration configuration)
    {
        if (args.Length < 2 || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out var shard)
            || !int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > 100_000)
        {
            Console.Error.WriteLine("offlinetasks: usage: enqueue SHARD COUNT (e.g. enqueue 1 20: 20 jobs of shard users-1; COUNT from 1 to 100000)");
            return 2;
        }

        var connectionString = configuration["OfflineTasks:ConnectionString"];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            Console.Error.WriteLine("offlinetasks: OfflineTasks:ConnectionString is not set");
            return 2;
        }

        var schema = configuration["OfflineTasks:Hangfire:Schema"] ?? new HangfireStorageSettings().Schema;
        var storage = GlobalConfiguration.Configuration
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UsePostgreSqlStorage(o => o.UseNpgsqlConnection(connectionString), new PostgreSqlStorageOptions { SchemaName = schema })
            .Entry;
        var client = new BackgroundJobClient(storage);
        var ids = Enumerable.Range(1, count).Select(user => client.Enqueue<IPhotoIndexer>(x => x.ReindexAsync(shard, user, CancellationToken.None))).ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"offlinetasks: enqueued {count} jobs of shard users-{shard}: {string.Join(' ', ids)}"));
        return 0;
    }
}

using System.Text.Json;
using OfflineTasks.Client;
using OfflineTasks.Jobs;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Client;

public class JobExpressionTests
{
    public interface IPhotoIndexer
    {
        Task ReindexAsync(long userId, CancellationToken cancellationToken);
        Task WithCallback(Func<int> callback);
        Task WithObject(object value);
        void Run();
    }

    public sealed class Node
    {
        public Node? Next { get; set; }
    }

    [Fact]
    public void Stores_type_method_parameter_types_and_json_arguments()
    {
        long userId = 42;
        var job = Job.FromExpression<IPhotoIndexer>(x => x.ReindexAsync(userId, CancellationToken.None));

        Assert.Equal("OfflineTasks.Tests.Client.JobExpressionTests+IPhotoIndexer, OfflineTasks.Tests", job.Type);
        Assert.Equal("ReindexAsync", job.Method);
        Assert.Equal("[\"System.Int64\",\"System.Threading.CancellationToken\"]", job.ParameterTypes);
        Assert.Equal("[42,null]", job.Arguments);
        Assert.Equal("IPhotoIndexer.ReindexAsync", job.ToString());
    }

    [Fact]
    public void Evaluates_computed_arguments()
    {
        var ids = new[] { 1, 2, 3 };
        var job = Job.FromExpression(() => TestJobs.RecordAsync("k" + ids.Length, ids.Sum()));
        Assert.Equal("[\"k3\",6]", job.Arguments);
    }

    [Fact]
    public void Rejects_an_expression_that_is_not_a_method_call()
    {
        var e = Assert.Throws<JobSerializationException>(() => Job.FromExpression<IPhotoIndexer>(x => Task.CompletedTask));
        Assert.Contains("single method call", e.Message);
    }

    [Fact]
    public void Rejects_a_lambda_argument()
    {
        var e = Assert.Throws<JobSerializationException>(() => Job.FromExpression<IPhotoIndexer>(x => x.WithCallback(() => 1)));
        Assert.Contains("callback", e.Message);
        Assert.Contains("cannot be stored", e.Message);
    }

    [Fact]
    public void Rejects_an_argument_that_cannot_be_stored_as_json()
    {
        using var stream = new MemoryStream();
        var streamError = Assert.Throws<JobSerializationException>(() => Job.FromExpression<IPhotoIndexer>(x => x.WithObject(stream)));
        Assert.Contains("'value'", streamError.Message);
        Assert.Contains("MemoryStream", streamError.Message);

        var cycle = new Node();
        cycle.Next = cycle;
        var cycleError = Assert.Throws<JobSerializationException>(() => Job.FromExpression<IPhotoIndexer>(x => x.WithObject(cycle)));
        Assert.Contains("cannot be stored as JSON", cycleError.Message);
        Assert.IsAssignableFrom<JsonException>(cycleError.InnerException);
    }

    [Fact]
    public void Rejects_a_call_on_something_other_than_the_lambda_parameter()
    {
        IPhotoIndexer? other = null;
        var e = Assert.Throws<JobSerializationException>(() => Job.FromExpression<IPhotoIndexer>(x => other!.Run()));
        Assert.Contains("lambda's parameter", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Upper")]
    [InlineData("has space")]
    public void Rejects_an_invalid_queue_name(string queue)
    {
        var e = Assert.Throws<ArgumentException>(() => Job.FromExpression<IPhotoIndexer>(x => x.Run(), new JobOptions { Queue = queue }));
        Assert.Contains($"Queue '{queue}'", e.Message);
    }

    [Fact]
    public void Rejects_both_run_at_and_delay_and_a_zero_attempt_count()
    {
        Assert.Contains("RunAt and JobOptions.Delay", Assert.Throws<ArgumentException>(() =>
            Job.FromExpression<IPhotoIndexer>(x => x.Run(), new JobOptions { RunAt = DateTimeOffset.UnixEpoch, Delay = TimeSpan.FromSeconds(1) })).Message);
        Assert.Contains("MaxAttempts 0", Assert.Throws<ArgumentException>(() =>
            Job.FromExpression<IPhotoIndexer>(x => x.Run(), new JobOptions { MaxAttempts = 0 })).Message);
    }
}

using System.Linq.Expressions;
using OfflineTasks.Client;

namespace OfflineTasks.Jobs;

/// <summary>
/// A method call to run in the background, as it is stored: the type to resolve, the method, its parameter
/// types and its JSON arguments, plus the <see cref="JobOptions"/>. Build one from an expression with
/// <see cref="FromExpression{T}(Expression{Func{T, Task}}, JobOptions?)"/> and its overloads.
/// </summary>
public sealed class Job
{
    internal Job(string type, string method, string parameterTypes, string arguments, JobOptions options)
    {
        Type = type;
        Method = method;
        ParameterTypes = parameterTypes;
        Arguments = arguments;
        Options = options;
    }

    /// <summary>The type the method is called on, as <c>"Namespace.Type, Assembly"</c>.</summary>
    public string Type { get; }

    /// <summary>The method name.</summary>
    public string Method { get; }

    /// <summary>The method's parameter types, as a JSON array of type names (used to pick the overload).</summary>
    public string ParameterTypes { get; }

    /// <summary>The arguments, as a JSON array (a <see cref="CancellationToken"/> or <see cref="JobContext"/> argument is stored as <c>null</c> and supplied at run time).</summary>
    public string Arguments { get; }

    /// <summary>Queue, priority, shard, schedule and attempts.</summary>
    public JobOptions Options { get; }

    /// <summary>Describes an asynchronous instance method call; <typeparamref name="T"/> is resolved from DI when the job runs.</summary>
    /// <exception cref="JobSerializationException">The expression is not a plain method call or an argument cannot be stored as JSON.</exception>
    public static Job FromExpression<T>(Expression<Func<T, Task>> call, JobOptions? options = null) => JobExpression.Parse(call, typeof(T), options);

    /// <summary>Describes a synchronous instance method call; <typeparamref name="T"/> is resolved from DI when the job runs.</summary>
    /// <exception cref="JobSerializationException">The expression is not a plain method call or an argument cannot be stored as JSON.</exception>
    public static Job FromExpression<T>(Expression<Action<T>> call, JobOptions? options = null) => JobExpression.Parse(call, typeof(T), options);

    /// <summary>Describes an asynchronous static method call.</summary>
    /// <exception cref="JobSerializationException">The expression is not a plain method call or an argument cannot be stored as JSON.</exception>
    public static Job FromExpression(Expression<Func<Task>> call, JobOptions? options = null) => JobExpression.Parse(call, null, options);

    /// <summary>Describes a synchronous static method call.</summary>
    /// <exception cref="JobSerializationException">The expression is not a plain method call or an argument cannot be stored as JSON.</exception>
    public static Job FromExpression(Expression<Action> call, JobOptions? options = null) => JobExpression.Parse(call, null, options);

    /// <summary>A readable form, e.g. <c>IPhotoIndexer.ReindexAsync</c>.</summary>
    public override string ToString()
    {
        var comma = Type.IndexOf(',', StringComparison.Ordinal);
        var typeName = comma < 0 ? Type : Type[..comma];
        var start = typeName.LastIndexOfAny(['.', '+']);
        return $"{typeName[(start + 1)..]}.{Method}";
    }
}

using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OfflineTasks.Internal;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;

namespace OfflineTasks.Server;

/// <summary>Turns a claimed job back into a call: resolves type and method (cached), rebuilds the arguments, invokes and awaits.</summary>
internal sealed class JobInvoker
{
    private readonly ConcurrentDictionary<(string Type, string Method, string ParameterTypes), Target> _targets = new();

    public async Task InvokeAsync(IServiceProvider services, ClaimedJob job, JobContext context, CancellationToken cancellationToken)
    {
        var target = _targets.GetOrAdd((job.Type, job.Method, job.ParameterTypes), static key => Target.Resolve(key.Type, key.Method, key.ParameterTypes));
        var arguments = target.ReadArguments(job.Arguments, context, cancellationToken);
        object? instance = null;
        if (!target.Method.IsStatic)
        {
            instance = services.GetService(target.Type);
            if (instance is null)
            {
                if (target.Type.IsAbstract || target.Type.IsInterface)
                {
                    throw new JobLoadException($"No service is registered for {target.Type.FullName}; register an implementation in the worker's DI container.");
                }

                instance = ActivatorUtilities.CreateInstance(services, target.Type);
            }
        }

        var result = target.Method.Invoke(instance, BindingFlags.DoNotWrapExceptions, binder: null, arguments, culture: null);
        switch (result)
        {
            case Task task:
                await task.ConfigureAwait(false);
                break;
            case ValueTask valueTask:
                await valueTask.ConfigureAwait(false);
                break;
            default:
                if (result is not null && target.ValueTaskAsTask is { } asTask)
                {
                    await ((Task)asTask.Invoke(result, null)!).ConfigureAwait(false);
                }

                break;
        }
    }

    private sealed class Target
    {
        private Target(Type type, MethodInfo method, ParameterInfo[] parameters)
        {
            Type = type;
            Method = method;
            Parameters = parameters;
            if (method.ReturnType.IsGenericType && method.ReturnType.GetGenericTypeDefinition() == typeof(ValueTask<>))
            {
                ValueTaskAsTask = method.ReturnType.GetMethod(nameof(ValueTask<int>.AsTask));
            }
        }

        public Type Type { get; }
        public MethodInfo Method { get; }
        public ParameterInfo[] Parameters { get; }
        public MethodInfo? ValueTaskAsTask { get; }

        public static Target Resolve(string typeName, string methodName, string parameterTypesJson)
        {
            var type = TypeNames.Resolve(typeName)
                ?? throw new JobLoadException($"Job type '{typeName}' could not be loaded: the type or its assembly no longer exists in this worker.");

            string[] parameterTypeNames;
            try
            {
                parameterTypeNames = JsonSerializer.Deserialize<string[]>(parameterTypesJson, JobJson.Options) ?? [];
            }
            catch (JsonException e)
            {
                throw new JobLoadException($"Job method {type.Name}.{methodName} has unreadable parameter types '{parameterTypesJson}': {e.Message}", e);
            }

            var parameterTypes = new Type[parameterTypeNames.Length];
            for (var i = 0; i < parameterTypeNames.Length; i++)
            {
                parameterTypes[i] = TypeNames.Resolve(parameterTypeNames[i])
                    ?? throw new JobLoadException($"Job method {type.Name}.{methodName}: parameter type '{parameterTypeNames[i]}' could not be loaded.");
            }

            const BindingFlags flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
            var method = type.GetMethod(methodName, flags, parameterTypes)
                ?? type.GetInterfaces().Select(i => i.GetMethod(methodName, flags, parameterTypes)).FirstOrDefault(m => m is not null)
                ?? throw new JobLoadException(
                    $"Job method {type.Name}.{methodName}({string.Join(", ", parameterTypes.Select(t => t.Name))}) no longer exists on {type.FullName}.");

            return new Target(type, method, method.GetParameters());
        }

        public object?[] ReadArguments(string json, JobContext context, CancellationToken cancellationToken)
        {
            using var document = ParseArguments(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() != Parameters.Length)
            {
                throw new JobLoadException(
                    $"Job {Type.Name}.{Method.Name} expects {Parameters.Length} arguments, but the stored arguments are {Truncate(json)}.");
            }

            var values = new object?[Parameters.Length];
            var i = 0;
            foreach (var element in root.EnumerateArray())
            {
                var parameter = Parameters[i];
                if (parameter.ParameterType == typeof(CancellationToken))
                {
                    values[i] = cancellationToken;
                }
                else if (parameter.ParameterType == typeof(JobContext))
                {
                    values[i] = context;
                }
                else
                {
                    try
                    {
                        values[i] = element.Deserialize(parameter.ParameterType, JobJson.Options);
                    }
                    catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
                    {
                        throw new JobLoadException(
                            $"Argument '{parameter.Name}' of {Type.Name}.{Method.Name} could not be read as {parameter.ParameterType.Name} from {Truncate(element.GetRawText())}: {e.Message}", e);
                    }
                }

                i++;
            }

            return values;
        }

        private JsonDocument ParseArguments(string json)
        {
            try
            {
                return JsonDocument.Parse(json);
            }
            catch (JsonException e)
            {
                throw new JobLoadException($"Arguments of {Type.Name}.{Method.Name} are not valid JSON: {e.Message}", e);
            }
        }

        private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";
    }
}

using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using OfflineTasks.Internal;
using OfflineTasks.Jobs;

namespace OfflineTasks.Client;

/// <summary>Turns a call expression into a <see cref="Job"/>: type, method, parameter types and JSON arguments.</summary>
internal static class JobExpression
{
    private static readonly ConcurrentDictionary<(MethodInfo, Type), MethodShape> Shapes = new();

    private static readonly Type[] UnstorableTypes =
    [
        typeof(Delegate), typeof(Expression), typeof(Task), typeof(ValueTask), typeof(Stream), typeof(Type),
        typeof(MemberInfo), typeof(IntPtr), typeof(UIntPtr), typeof(WaitHandle), typeof(IDisposable), typeof(IAsyncDisposable),
    ];

    public static Job Parse(LambdaExpression call, Type? instanceType, JobOptions? options)
    {
        ArgumentNullException.ThrowIfNull(call);
        options = JobOptionsValidator.Validate(options ?? JobOptions.Default);

        if (call.Body is not MethodCallExpression body)
        {
            throw new JobSerializationException(
                $"A job must be a single method call such as 'x => x.RunAsync(id, CancellationToken.None)', but the expression body is '{call.Body}' ({call.Body.NodeType}).");
        }

        var targetType = TargetType(call, body, instanceType);
        var shape = Shapes.GetOrAdd((body.Method, targetType), static key => MethodShape.Create(key.Item1, key.Item2));
        var arguments = SerializeArguments(shape, body.Arguments);
        return new Job(shape.TypeName, shape.Method.Name, shape.ParameterTypesJson, arguments, options);
    }

    private static Type TargetType(LambdaExpression call, MethodCallExpression body, Type? instanceType)
    {
        var method = body.Method;
        if (method.IsStatic)
        {
            return method.DeclaringType ?? throw new JobSerializationException($"Method '{method.Name}' has no declaring type.");
        }

        if (instanceType is not null)
        {
            if (body.Object is not ParameterExpression parameter || parameter != call.Parameters[0])
            {
                throw new JobSerializationException(
                    $"Call '{method.Name}' on the lambda's parameter (x => x.{method.Name}(...)); calling it on '{body.Object}' would need that object, which cannot be stored.");
            }

            return instanceType;
        }

        // () => service.Run(): the instance is not stored; a fresh one of the declared type is resolved when the job runs.
        return body.Object!.Type;
    }

    private static string SerializeArguments(MethodShape shape, System.Collections.ObjectModel.ReadOnlyCollection<Expression> arguments)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using var writer = new Utf8JsonWriter(buffer);
        writer.WriteStartArray();
        var parameters = shape.Parameters;
        for (var i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            var parameterType = parameter.ParameterType;
            if (parameterType == typeof(CancellationToken) || parameterType == typeof(JobContext))
            {
                writer.WriteNullValue();
                continue;
            }

            object? value;
            try
            {
                value = Evaluate(arguments[i]);
            }
            catch (Exception e)
            {
                throw new JobSerializationException(
                    $"Argument '{parameter.Name}' of {shape.DisplayName} could not be evaluated: {e.Message}", e);
            }

            if (value is not null && IsUnstorable(value.GetType()))
            {
                throw new JobSerializationException(
                    $"Argument '{parameter.Name}' of {shape.DisplayName} is a {value.GetType().Name}, which cannot be stored as JSON; pass the data it stands for instead.");
            }

            byte[] json;
            try
            {
                json = JsonSerializer.SerializeToUtf8Bytes(value, parameterType, JobJson.Options);
                // Read it back now, so an argument the worker could not rebuild is rejected here and not at run time.
                JsonSerializer.Deserialize(json, parameterType, JobJson.Options);
            }
            catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
            {
                throw new JobSerializationException(
                    $"Argument '{parameter.Name}' of {shape.DisplayName} (type {parameterType.Name}) cannot be stored as JSON and read back: {e.Message}", e);
            }

            writer.WriteRawValue(json, skipInputValidation: true);
        }

        writer.WriteEndArray();
        writer.Flush();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    internal static bool IsUnstorable(Type type) => type.IsPointer || type.IsByRef || UnstorableTypes.Any(t => t.IsAssignableFrom(type));

    /// <summary>Evaluates an argument without compiling in the common cases (constants and captured variables), which keeps bulk enqueue fast.</summary>
    private static object? Evaluate(Expression expression)
    {
        switch (expression)
        {
            case ConstantExpression constant:
                return constant.Value;
            case MemberExpression { Member: FieldInfo field, Expression: null }:
                return field.GetValue(null);
            case MemberExpression { Member: FieldInfo field, Expression: ConstantExpression closure }:
                return field.GetValue(closure.Value);
            case MemberExpression { Member: PropertyInfo property, Expression: ConstantExpression owner } when property.GetIndexParameters().Length == 0:
                return property.GetValue(owner.Value);
            case UnaryExpression { NodeType: ExpressionType.Convert, Operand: var operand } when operand.Type.IsValueType == false || expression.Type == typeof(object):
                return Evaluate(operand);
            default:
                if (expression is LambdaExpression || expression.NodeType == ExpressionType.Quote)
                {
                    throw new JobSerializationException($"A lambda ('{expression}') cannot be a job argument; it cannot be stored.");
                }

                var lambda = Expression.Lambda<Func<object?>>(Expression.Convert(expression, typeof(object)));
                return lambda.Compile(preferInterpretation: true)();
        }
    }

    /// <summary>What never changes for a method: checked once, cached.</summary>
    private sealed class MethodShape
    {
        private MethodShape(MethodInfo method, ParameterInfo[] parameters, string typeName, string parameterTypesJson, string displayName)
        {
            Method = method;
            Parameters = parameters;
            TypeName = typeName;
            ParameterTypesJson = parameterTypesJson;
            DisplayName = displayName;
        }

        public MethodInfo Method { get; }
        public ParameterInfo[] Parameters { get; }
        public string TypeName { get; }
        public string ParameterTypesJson { get; }
        public string DisplayName { get; }

        public static MethodShape Create(MethodInfo method, Type targetType)
        {
            var display = $"{targetType.Name}.{method.Name}";
            if (method.IsGenericMethod)
            {
                throw new JobSerializationException($"{display} is a generic method; job methods must not be generic.");
            }

            if (targetType.ContainsGenericParameters)
            {
                throw new JobSerializationException($"{display}: the type {targetType.Name} is an open generic type.");
            }

            if (method.ReturnType == typeof(void) && method.GetCustomAttribute<AsyncStateMachineAttribute>() is not null)
            {
                throw new JobSerializationException($"{display} is 'async void', which cannot be awaited; make it return Task.");
            }

            var parameters = method.GetParameters();
            foreach (var parameter in parameters)
            {
                var type = parameter.ParameterType;
                if (type.IsByRef || parameter.IsOut)
                {
                    throw new JobSerializationException($"{display}: parameter '{parameter.Name}' is ref/out/in, which a job cannot have.");
                }

                if (IsUnstorable(type))
                {
                    throw new JobSerializationException(
                        $"{display}: parameter '{parameter.Name}' is of type {type.Name}, which cannot be stored as JSON; pass the data it stands for instead.");
                }
            }

            var parameterTypes = JsonSerializer.Serialize(parameters.Select(p => TypeNames.Of(p.ParameterType)).ToArray(), JobJson.Options);
            return new MethodShape(method, parameters, TypeNames.Of(targetType), parameterTypes, display);
        }
    }
}

namespace OfflineTasks.Client;

/// <summary>
/// Thrown at enqueue when a call cannot become a job: the expression is not a plain method call, the
/// method cannot be invoked later (generic, <c>ref</c>/<c>out</c> parameters, <c>async void</c>), or an
/// argument cannot be stored as JSON and read back. The message names the method and the argument.
/// </summary>
public sealed class JobSerializationException : Exception
{
    /// <summary>Creates the exception with a message that says what was wrong.</summary>
    public JobSerializationException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the serializer's own error.</summary>
    public JobSerializationException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with no message.</summary>
    public JobSerializationException() { }
}

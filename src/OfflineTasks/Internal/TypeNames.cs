namespace OfflineTasks.Internal;

/// <summary>Stores types as <c>"Namespace.Type, Assembly"</c> (no version, so jobs survive a redeploy) and resolves them back.</summary>
internal static class TypeNames
{
    private static readonly System.Reflection.Assembly CoreLibrary = typeof(object).Assembly;

    public static string Of(Type type)
    {
        if (type.Assembly == CoreLibrary && !type.IsGenericType)
        {
            return type.FullName ?? type.Name;
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            var definition = type.GetGenericTypeDefinition();
            var arguments = string.Join(",", type.GetGenericArguments().Select(a => "[" + Of(a) + "]"));
            var definitionName = definition.FullName ?? definition.Name;
            return definition.Assembly == CoreLibrary
                ? $"{definitionName}[{arguments}]"
                : $"{definitionName}[{arguments}], {definition.Assembly.GetName().Name}";
        }

        return $"{type.FullName ?? type.Name}, {type.Assembly.GetName().Name}";
    }

    public static Type? Resolve(string name)
    {
        try
        {
            return Type.GetType(name, throwOnError: false);
        }
        catch (Exception e) when (e is ArgumentException or IOException or BadImageFormatException or TypeLoadException)
        {
            return null;
        }
    }
}

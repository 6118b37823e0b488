using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace OfflineTasks.Hosting;

/// <summary>How every <c>AddOfflineTasks*</c> method registers its options: bound from a section, then configured in code.</summary>
internal static class OptionsRegistration
{
    public static OptionsBuilder<T> AddOptions<T>(IServiceCollection services, IConfiguration? configuration, string section, Action<T>? configure)
        where T : class
    {
        var options = services.AddOptions<T>();
        if (configuration is not null)
        {
            options.Bind(configuration.GetSection(section));
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        return options;
    }
}

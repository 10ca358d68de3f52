package tfprovider

import (
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/ldap/dn"
)

// gatehouse_ldap_provider: an LDAP view of the directory.
type ldapProviderModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	BaseDN      types.String `tfsdk:"base_dn"`
	SearchGroup types.String `tfsdk:"search_group"`
	BindMode    types.String `tfsdk:"bind_mode"`
	SearchMode  types.String `tfsdk:"search_mode"`
	UPNDomain   types.String `tfsdk:"upn_domain"`
	UID         types.String `tfsdk:"uid"`
}

func newLDAPProviderResource() resource.Resource {
	modes := []validator.String{stringvalidator.OneOf(client.LDAPModeDirect, client.LDAPModeCached)}
	return sameInput(ldapProviderModel.input, &named[ldapProviderModel, client.LDAPProviderInput, client.LDAPProviderInput, client.LDAPProvider]{
		typeName: "ldap_provider", what: "LDAP provider", nameKey: "name", name: func(m ldapProviderModel) string { return m.Name.ValueString() },
		schema: schema.Schema{
			Description: "An LDAP provider: one LDAP view of the directory, served by the server's LDAP door or by outposts.",
			Attributes: map[string]schema.Attribute{
				"id":   idAttribute("The provider's name."),
				"name": nameAttribute("The provider's name (in scoped permissions such as `ldap.search_full_directory@ldap/NAME`); it cannot change, so changing it replaces the provider."),
				"base_dn": schema.StringAttribute{
					Required: true, Description: "The directory's root, such as `dc=example,dc=com`. The server stores it normalized (lower-case attribute types); a configuration that differs only so is no change.",
					Validators: []validator.String{validDN},
				},
				"search_group": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), Description: "A group whose members may search the directory (optional; must exist).",
					Validators: []validator.String{stringvalidator.Any(stringvalidator.LengthAtMost(0), validName)}},
				"bind_mode":   schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(client.LDAPModeDirect), Description: "`direct` (default) or `cached`.", Validators: modes},
				"search_mode": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(client.LDAPModeCached), Description: "`direct` or `cached` (default).", Validators: modes},
				"upn_domain":  optionalString("A domain for binds as `USERNAME@DOMAIN` (optional)."),
				"uid":         uidAttribute("The provider's unique identifier."),
			},
		},
		api: func(c *client.Client) collection[client.LDAPProviderInput, client.LDAPProviderInput, client.LDAPProvider] {
			return c.LDAPProviders
		},
		state: ldapProviderState, createFields: ldapProviderFields, updateFields: ldapProviderFields,
	})
}

var ldapProviderFields = []string{"name", "base_dn", "search_group", "bind_mode", "search_mode", "upn_domain"}

func (m ldapProviderModel) input() client.LDAPProviderInput {
	return client.LDAPProviderInput{Name: m.Name.ValueString(), BaseDN: strPtr(m.BaseDN), SearchGroup: strPtr(m.SearchGroup),
		BindMode: strPtr(m.BindMode), SearchMode: strPtr(m.SearchMode), UPNDomain: strPtr(m.UPNDomain)}
}

// ldapProviderState fills m from the server. The server normalizes the
// base DN; the configuration's spelling is kept when it names the same
// DN, or every plan would show a change.
func ldapProviderState(p client.LDAPProvider, m *ldapProviderModel) {
	base := p.BaseDN
	if d, err := dn.Parse(m.BaseDN.ValueString()); err == nil && !m.BaseDN.IsNull() && d.String() == p.BaseDN {
		base = m.BaseDN.ValueString()
	}
	m.ID, m.Name, m.BaseDN, m.UID = types.StringValue(p.Name), types.StringValue(p.Name), types.StringValue(base), types.StringValue(p.UID)
	m.SearchGroup, m.BindMode, m.SearchMode, m.UPNDomain = types.StringValue(p.SearchGroup), types.StringValue(p.BindMode), types.StringValue(p.SearchMode), types.StringValue(p.UPNDomain)
}

"""Operations on inventories behind the operator commands; no command-line code here.

* :mod:`.views`: hosts, groups and memberships of an inventory, for listing;
* :mod:`.diff`: structured differences between two inventories (plan, diff);
* :mod:`.edit`: removing hosts and groups, clearing addresses (pure functions);
* :mod:`.consistency`: the checks ``doctor`` runs on a stored inventory;
* :mod:`.exchange`: OSA's export format and reading inventories to import;
* :mod:`.retention`: setting a backend's retention in osa.ini;
* :mod:`.migrate`: copying an inventory and its history between stores.
"""
